from ninja import NinjaAPI

api = NinjaAPI(title="rulecenter API", version="1", urls_namespace="api")
