"""The title model: predict a title's click rate from the brand's own history of titles."""
