"""Pages: the day board, the week view, booking a course, and the admin pages."""
