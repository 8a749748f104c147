"""Run metadata, logger builders and media. Tracker packages are imported only when used."""
