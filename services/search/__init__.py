"""Search and exports of requests for staff: free text in Chinese, a caller's history, CSV and GeoJSON."""
