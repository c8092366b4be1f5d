"""What both FastAPI apps share, one module per concern: `errors` (problem+json), `unavailable` (when
PostgreSQL or Redis is away), `middleware`, `health`, `openapi`, `docs` (the offline pages) and `app`
(the factory that puts them together). Import from the module itself."""
