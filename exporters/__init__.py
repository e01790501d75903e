"""infermeter.exporters"""
