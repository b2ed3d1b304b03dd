"""Write documents: template context, sandbox, template loading, escaping, limits."""
