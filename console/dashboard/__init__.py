"""The admin index as the operator's dashboard, per channel account.

selectors.dashboard_data(account_id=…) composes every figure (a plain function: benchmarks call it);
health, activity, audience and campaigns each read one concern; views hold the unfold callback and
the in-flight endpoints; charts turns series into unfold/Chart.js chart data."""

from console.dashboard.views import dashboard_callback

__all__ = ["dashboard_callback"]
