from django.urls import path

from console.dashboard import views

urlpatterns = [
    path("in-flight/", views.in_flight_fragment, name="console-dashboard-in-flight"),
    path("in-flight.json", views.in_flight_json, name="console-dashboard-in-flight-json"),
]
