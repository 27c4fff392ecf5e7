"""The users page: the people who may sign in, managed by an admin in the browser."""
