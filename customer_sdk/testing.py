"""Pytest plugin placeholder; replaced below."""
