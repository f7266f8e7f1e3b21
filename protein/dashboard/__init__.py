"""``protein dashboard``: a sweep, live, in the browser (``server``), from the JSON views of
``data`` and the one page of ``page``; ``protein report --html`` writes that page to a file."""
