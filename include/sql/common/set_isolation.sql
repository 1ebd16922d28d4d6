-- {isolation} is one of bulkscan's Isolation literals, checked before it is filled in.
SET SESSION TRANSACTION ISOLATION LEVEL {isolation}
