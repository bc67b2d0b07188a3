"""Models of this feature; imported by the app's models.py so Django registers them."""
