"""The web app: factory, services, security, errors, pages and one router per resource.

The only place FastAPI, Starlette, Jinja2 and markdown-it are imported.
"""
