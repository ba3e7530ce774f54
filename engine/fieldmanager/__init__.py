"""Server-side apply and managedFields (what apimachinery's `fieldmanager` does): pure
functions over dicts that the object service's apply and the API's writes share."""
