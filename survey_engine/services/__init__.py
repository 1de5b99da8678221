"""Services: the only code that talks to both the database and the analysis core.

The CLI, the HTML pages and the JSON API call these functions, so each job has one path.
"""
