"""The standalone demo: service versions, load, HAProxy and Prometheus on 127.0.0.1, and their supervisor."""
