"""infermeter.chargeback"""
