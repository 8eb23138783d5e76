"""Department staff: their sign-in, and the admin API that manages them."""
