from archspec.console import main

main()
