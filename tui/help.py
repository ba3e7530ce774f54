"""The `?` help text: every key the TUI binds, in one place."""

KEY_HELP = """\
Moving          up/down or j/k, pgup/pgdn, tab / shift-tab switch pane
/               filter rows: name substring, status (e.g. /CrashLoop), an event's reason or
                message (/NodeNotReady), or -l app=web
escape          clear the filter
:               switch view, with completion (tab): pods deployments replicasets
                statefulsets daemonsets jobs services ingresses configmaps secrets
                events namespaces pvcs nodes (kubectl short names work: po deploy svc)
d               describe the selected object (with its events)
y               YAML of the selected object (secrets masked)
x               reveal the selected Secret's values (in its describe or YAML view: there)
l               focus the logs of the selected pod (the focused pane has the accent line
                on its left and a highlighted title; escape goes back to the table)
ctrl-d          delete (asks first)
ctrl-k          kill a pod (delete with grace period 0, asks first)
+ / -           scale a deployment, statefulset or replicaset up / down
r               rollout restart (deployments, statefulsets, daemonsets)
n / 0           pick a namespace / all namespaces
t               next colour theme (remembered)
s               shell into the selected pod's container (docker exec; container from c)
e               edit in $EDITOR: the manifest file at the object's line for objects from
                the folder (kubedeck applies the saved file), else YAML sent back with PUT
E               open a manifest error (status area) in $EDITOR at its file:line
f               port-forward the selected pod, service or deployment: LOCAL:REMOTE
                (:REMOTE picks a free local port); f again on it stops the forward
J               journey of the selected object: what each component did to it, in order,
                with times since the first hop (for a pod: file save to proxy rules)
:xray           the Kubernetes components as a live diagram (arrows move, enter lists a
                component's recent actions, ? explains it, J journey, escape back)
q               quit

Logs pane (when focused; l focuses it, escape goes back to the table):
F follow on/off   T timestamps   w wrap   p previous container   c pick container
a all containers interleaved ([name] prefix)   J pretty-print JSON lines
/ search the logs (not a filter here): highlights matches; n / N next / previous match
& only matching lines on/off
1 2 3 4 since 1m / 5m / 15m / 1h (again: off)   0 tail 500 > 2000 > 100 > all
S save the buffer to a file (current directory)
v select lines: j/k, up/down, pgup/pgdn, g/G extend the selection from where v started;
  y copies them to the clipboard (OSC 52), v or escape leaves
o show the buffer in $PAGER (default less -R) with the TUI suspended: the terminal's own
  mouse selection and copy work there; quit the pager to come back
  (in the TUI itself most terminals select natively with shift+drag)
The buffer keeps the last 10,000 lines; older ones are counted as dropped in the title.
"""

