"""From files to segments: type detection (detect.py), one parser per kind (pdf.py, images.py,
text.py, code.py, archive.py; base.py holds their contract) and the batch pipeline
(pipeline.py) that parses in worker processes and hands each document to storage.
"""
