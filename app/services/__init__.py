"""QtCore adapters over app.core: worker threads with signals, settings. The only place threads start."""
