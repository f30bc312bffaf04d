"""The gallery web pages: jinja2 page templates (``pages/``) and their own CSS and JS (``static/``)."""
