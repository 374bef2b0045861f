"""soundalike: find replacement music by example, weighted by genre, mood, instrument and tempo."""

APP_NAME = "soundalike"
__version__ = "0.1.0"
