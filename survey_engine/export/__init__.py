"""CRM export of combined profiles: destinations and their column mappings (``mappings.yaml``),
value formatting per CRM, streaming CSV / JSON Lines writers, and webhook signing."""
