"""Content of the service account: materials (media), article drafts and their publishing, and the
daily article statistics WeChat reports. The rows mirror what WeChat holds; these services are the one
writer of them."""
