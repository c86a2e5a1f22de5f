"""Reading talk pages from a group's static site, whatever generator wrote it.

Jekyll posts (`services/jekyll.py`), Jekyll collections, Hugo pages and page bundles (YAML or
TOML front matter) and the Hugo Academic / Wowchemy event type all become the same plain
`PostInfo` (`talk_info.py`) that the importer (`services/importer.py`) applies to the database.
Shared pieces: front matter within bounds, body reading, names, dates, places.
"""
