"""WeCom facts about customers: one relationship per (external contact, staff member), the corp's
staff directory, customer groups and their members. customers' services write them; messaging parses
WeCom's events and calls these services; campaigns reads them for group messages."""
