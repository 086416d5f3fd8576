"""Consistent backups of the agent's database and proven restores (issue 7).

``dump.run_backup`` writes ``<dir>/<timestamp>-<id>/{dump.pgc,manifest.json}``;
``restore.run_restore`` verifies a backup before touching a database and
verifies the database after; ``retention`` picks which old backups to delete.
"""
