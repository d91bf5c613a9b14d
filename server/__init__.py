"""Percolate: a self-hosted server for real-time video and chat meeting rooms."""
