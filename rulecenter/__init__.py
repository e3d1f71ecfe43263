"""rulecenter: a marketplace's rules & announcements center."""
