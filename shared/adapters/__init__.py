"""The only modules that import a cloud or provider SDK or run a subprocess: GCS, Pub/Sub,
Cloud Tasks, Stripe, Zoom, email, ffmpeg. Each is imported where it is used, lazily."""
