"""Archetype logic: explained soft assignment of customers to catalog archetypes, and discovery of
candidate archetypes. (The researcher-written catalogs live in the top-level ``archetypes/`` folder;
their loader is :mod:`survey_engine.definitions.archetypes`.)
"""
