"""What department staff do with requests: their queue, and every action on a request."""
