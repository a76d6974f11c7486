"""Tests of the files service."""
