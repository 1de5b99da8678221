"""Survey and psychographic archetype engine for luxury fashion, jewellery and lifestyle brands."""
