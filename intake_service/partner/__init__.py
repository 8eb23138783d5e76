"""The partner API: filing and following requests on behalf of residents."""
