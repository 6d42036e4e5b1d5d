// Generated code and documents for the node and admin APIs live beside this file.
