"""Notifications: tell people about a rollout's progress through webhooks.

Layer 2 adapter. The controller builds a `notification.Notification` on start, each step,
promotion, rollback and when a rollout is blocked, and hands it to a `webhook.WebhookNotifier`,
which sends it in the background so that a slow or failing receiver never delays a rollout.
Destinations come only from the controller's own configuration (`config.load_destinations`),
never from annotations on a user's Deployment.
"""
