"""gunicorn's settings for the clinic, read from the working directory by `gunicorn
wsgi:app` (flags on the command line override them).

No control socket: gunicorn 25.1+ runs it by default as an asyncio thread in the master,
stopped before and restarted after every fork of a worker, at one path shared by every
gunicorn of the same user. Workers forked around that thread are where the reported
SIGSEGVs point; the clinic never uses `gunicornc`, so it is off.
"""

control_socket_disable = True
