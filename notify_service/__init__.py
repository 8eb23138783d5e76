"""Notify service: SMS to residents, from templates, through pluggable providers."""
