"""The run report: rendered by Finalize for every run (real or offline), read by `bft report` and the demo.

- :mod:`bft.report.render`: report.html and report.md from the run's record and documents;
- :mod:`bft.report.publish`: what Finalize gathers (path, documents) and the objects it writes;
- :mod:`bft.report.notification`: the notification a person reads in a mail client.
"""
