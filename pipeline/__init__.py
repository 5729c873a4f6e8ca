"""hotich: the pipeline that digitizes Vietnam's pre-1990 civil-status registry books."""

__version__ = "0.1.0"
