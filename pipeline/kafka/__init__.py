"""Kafka plumbing: the local development broker, bootstrap resolution, topic admin, feed and tail."""
