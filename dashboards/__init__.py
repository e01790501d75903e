"""infermeter.dashboards"""
