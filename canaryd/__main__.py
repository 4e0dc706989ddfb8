from canaryd.cli.main import main

main()
