"""The web console (民情工作台): a small no-build single-page app served by the intake API at `/console/`.

`console.app.mount_console(app)` adds its routes; the pages themselves are plain ES modules, one HTML
shell and one stylesheet under `console/static/`; Leaflet comes from the pinned npm package in
`console/package.json` (installed into `console/node_modules` by `make install`). See docs/console.md.
"""
