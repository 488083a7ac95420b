"""What the apps' pages and admin share: transition forms and views, the delete and Undo pages, admin
mixins, the state diagrams."""
