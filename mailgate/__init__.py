"""mailgate: a mail-policy gateway for Chinese workplaces (the engine; the regulation lives in ``checks``)."""

__version__ = "0.1.0"
