"""Mail templates: the gallery's catalogue, the jinja2 sandbox they render in, and the mail they become."""
