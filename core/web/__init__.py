"""What the apps' pages and admin share: transition forms and views, admin mixins, the state diagrams."""
